"""Media workers: long-running services fed by SQS task-token queues (ECS Fargate on AWS, processes locally).

``runtime`` is the one loop every worker shares (poll, heartbeat, temp dir, S3 in and out, answer Step
Functions); ``transcode`` and ``transcribe`` are the workers; ``probe`` describes a media file.
"""
