"""Monitoring: the time-series store and, later, alerts and anomaly flags."""
