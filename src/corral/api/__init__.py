"""HTTP only: routes, request/response schemas, and OpenAI's error envelope.

Each endpoint is a package of `router.py` (HTTP), `protocol.py` (wire schemas) and
`serving.py` (translation to and from the pipeline, testable without a server).
"""
