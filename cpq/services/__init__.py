"""Use cases between the REST resources and the core (the service layer)."""
