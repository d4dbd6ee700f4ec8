"""The HTML scoring report."""
