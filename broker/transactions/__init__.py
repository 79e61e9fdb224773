"""Transactions: the coordinator's state machine (`machine.py`)."""
