"""Lambda functions: thin handlers over the domain core in ``smmu``. One package per function."""
