"""Checks of names the outside world defines, shared by the configuration and the request
schemas: Kubernetes names, label keys and values, env names and quantities (`k8s_names`),
container image references (`image_refs`). Each returns an error message or None."""
