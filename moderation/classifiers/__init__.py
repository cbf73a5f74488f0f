"""Classifier backends for moderation: the interface and backend switch (base), the default
offline German/English lexicon backend (lexicon), and its evaluation against the labelled set
(evaluation, run by bench/moderation_eval.py)."""
