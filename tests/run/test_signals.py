"""Signals: a stop request waits for the batch end while batches run, else it stops at once."""

from __future__ import annotations

import os
import signal

import pytest

from zelo.run import signals
from zelo.run.signals import RunInterrupted, handle_signals


def test_outside_training_a_signal_stops_at_once() -> None:
    with handle_signals():
        signals.phase("the zero-shot evaluation")
        with pytest.raises(RunInterrupted) as err:
            os.kill(os.getpid(), signal.SIGTERM)
    assert err.value.exit_code == 143
    assert err.value.message.startswith("stopped by SIGTERM during the zero-shot evaluation")
    assert err.value.message.endswith("rerun the same command to resume")


def test_during_batches_a_signal_waits_for_the_batch_end_and_a_second_one_does_not() -> None:
    with handle_signals():
        signals.training(True)
        os.kill(os.getpid(), signal.SIGINT)  # recorded, not raised
        assert signals._state.signum == signal.SIGINT
        signals.checkpointed("last.ckpt (epoch 1, step 7)")
        with pytest.raises(RunInterrupted) as err:
            signals.stop("training (epoch 1, step 7)")
        assert err.value.exit_code == 130
        assert "(checkpoint: last.ckpt (epoch 1, step 7))" in err.value.message
    with handle_signals():
        signals.training(True)
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(RunInterrupted):
            os.kill(os.getpid(), signal.SIGINT)  # impatient: stop now


def test_handlers_are_restored_after_the_job() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with handle_signals():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_under_submitit_the_preemption_signal_goes_to_submitit_after_the_checkpoint(
    monkeypatch,
) -> None:
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "local")
    calls = []
    previous = signal.signal(signal.SIGUSR2, lambda s, f: calls.append(s))
    term = signal.getsignal(signal.SIGTERM)
    try:
        with handle_signals():
            assert signal.getsignal(signal.SIGTERM) is term  # SIGTERM left to submitit
            signals.training(True)
            os.kill(os.getpid(), signal.SIGUSR2)
            assert calls == []  # waits for the batch end and its checkpoint
            signals.stop("training (epoch 0, step 3)")  # hands over instead of raising
            assert calls == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, previous)
