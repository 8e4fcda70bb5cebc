"""Tooling around the application: resource manifest, Lambda packaging, provisioning, the embedded cloud and
the ``smmu`` command line. Nothing here is deployed to AWS."""
