"""On-demand weight and rule suggestions for the rule seeds."""
