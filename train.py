"""zelo's entry point: ``python train.py [overrides]`` or ``python train.py -m miner=a,b seed=0,1``
(the same app as the ``zelo-train`` command; see ``zelo/train.py``)."""

from __future__ import annotations

from zelo.train import run

if __name__ == "__main__":
    run()
