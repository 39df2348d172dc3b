"""Store credit and gift cards: internal ledgers of money a shopper can spend at the merchant."""
