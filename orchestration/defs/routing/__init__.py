"""Checks on lead routing: the SLA breach rate per scoring model."""
