"""Orchestration helpers for the lead-scoring project: raw data generation and run summaries."""
