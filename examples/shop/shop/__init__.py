"""A small shop: orders come in, are charged per customer, and the payments are booked."""
