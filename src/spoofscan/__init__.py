"""spoofscan: tell real speech from vocoded or synthesized speech (audio deepfakes)."""

__version__ = "0.1.0"
