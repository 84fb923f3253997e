"""The book: customers, invoices, payments, usage and orders, read set-based.

- `riskdesk.book.payments`: apply payments to invoices (`allocate`), record a payment.
- `riskdesk.book.facts`: every customer's balance, aging and exposure as of a day, in one query.
- `riskdesk.book.customers`: find and list customers.
"""
