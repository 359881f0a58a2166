"""Example handlers for the kit's event worker."""
