"""Offline evaluation against the live graph: the whole pipeline under the model's hold-out
(``pipeline``), fitting the ranker on validation follows (``ranker_fit``), and the hidden
follows both rely on (``holdout``)."""
