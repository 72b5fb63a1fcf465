"""The help desk: requester and agent JSON routes, their pages, and the models they answer with."""
