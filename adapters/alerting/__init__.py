"""Operator alerts to real channels: PagerDuty's Events API v2, a Slack incoming webhook and
email to the operators, chosen by severity (`routing.py`)."""
