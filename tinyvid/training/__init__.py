"""Training: what `fit` uses around the model's forward pass, in the order of one step.

    losses.py        J(y, y_hat): MSE and the cross-entropies (the source document, 3.2)
    optimizers/      theta <- theta - alpha * grad J: GD, SGD (3.3), RMSprop, Adam, AdamW;
                     schedules, clipping, weight decay
    metrics.py       accuracy, top-k, Precision, Recall; the confusion matrix
    callbacks/       History, the progress bar, EarlyStopping, ModelCheckpoint, schedulers,
                     CSVLogger, TerminateOnNaN, LambdaCallback, BackupAndRestore
    saving.py        weights to and from .npz files, atomically
    files.py         atomic_write: any file written whole or not at all
    checks.py        fit's checks on its arguments and data (epochs, NaN/inf, empty batches)
    rng.py           the one seeded generator behind initialisers, shuffling and dropout

This package imports nothing by itself, so layers can use rng.py without loading the rest.
"""
