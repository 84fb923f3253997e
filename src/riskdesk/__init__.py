"""riskdesk: the credit, collections and fraud desk of a cloud reseller."""

__version__ = "0.1.0"
