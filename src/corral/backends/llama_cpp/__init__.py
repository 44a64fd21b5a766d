"""In-process inference on GGUF models through llama-cpp-python."""

from corral.backends.llama_cpp.backend import LlamaCppBackend

__all__ = ["LlamaCppBackend"]
