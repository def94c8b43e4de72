"""zelo in a sentence-transformers workflow: ST models as students and scorers, ST datasets in and
mined ST training datasets out (``zelo-mine``)."""
