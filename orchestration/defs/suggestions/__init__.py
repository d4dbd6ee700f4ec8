"""On-demand weight suggestions for the rule seeds."""
