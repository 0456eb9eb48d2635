"""Powertools logger, metrics and tracer: created once per container, shared by every module."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "tiktok-connector")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MParticleTikTokConnector"))
tracer = Tracer(service=SERVICE)
