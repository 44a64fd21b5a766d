"""The privacy guard: detect personal data, replace it with typed placeholders before a prompt
leaves the machine, and put the original values back into the answer (whole or streamed)."""

from corral.privacy.detect import CATEGORIES, MODES, Detector, Span
from corral.privacy.pseudonymize import POLICY_MODES, Masked, Pseudonymizer, StreamRestorer

__all__ = [
    "CATEGORIES",
    "MODES",
    "POLICY_MODES",
    "Detector",
    "Masked",
    "Pseudonymizer",
    "Span",
    "StreamRestorer",
]
