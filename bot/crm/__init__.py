"""Leads leaving textback: the signed CRM webhook deliveries and the CSV export."""
