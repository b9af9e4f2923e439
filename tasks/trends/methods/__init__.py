"""One module per trend method (detector, scan or impact estimator), each defining ``METHODS``."""
