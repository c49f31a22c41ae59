"""The Docker-free local runtime: moto's server, resources from template.yaml, a local API."""
