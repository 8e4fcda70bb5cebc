"""Domain core of Smart Media Uploader: job model, status rules, storage keys, settings, AWS clients.

Pure modules (``jobs``, ``keys``, ``media_types``, ``errors``) import nothing from AWS; the adapters
(``aws``, ``repository``) are the only places that talk to the cloud.
"""
