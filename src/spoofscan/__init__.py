"""spoofscan: tell real speech from vocoded or synthesized speech (audio deepfakes).

    from spoofscan import Detector
    result = Detector.from_checkpoint("runs/r1/best.pt").predict_file("clip.wav")   # result.score = P(fake)
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Detector":  # imported on first use: `import spoofscan` stays light
        from .predict import Detector

        return Detector
    raise AttributeError(f"module 'spoofscan' has no attribute {name!r}")
