"""Reverse ETL: the CRM export of changed leads and the sync-state tables."""
