"""Activation: audiences delivered to Marketo static lists and LinkedIn Matched Audiences as deltas."""
