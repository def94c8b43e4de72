"""What makes a run trustworthy: config checks before any data, atomic in-training checkpoints,
a divergence guard, signal handling, one writer per job folder, and sweep progress."""
