"""The shopper portal's pages: thin views over the same services and selectors as the API."""
