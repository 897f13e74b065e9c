"""posenc: how much absolute position information do convolutional networks encode?

A reproducible reimplementation of Islam, Jia & Bruce (ICLR 2020). The data path reads top to bottom:

    images -> backbones -> store (cached features) -> readout / training -> metrics -> tables
"""

__version__ = "0.1.0"
