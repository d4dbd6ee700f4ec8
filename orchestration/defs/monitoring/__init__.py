"""The score-distribution history after each scoring run and its blocking drift check."""
