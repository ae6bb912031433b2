"""Keras callbacks."""

from edgekeras.callbacks.callback import Callback, CallbackList, History
from edgekeras.callbacks.csv_logger import CSVLogger
from edgekeras.callbacks.early_stopping import EarlyStopping
from edgekeras.callbacks.lambda_callback import LambdaCallback
from edgekeras.callbacks.model_checkpoint import ModelCheckpoint
from edgekeras.callbacks.progbar_logger import ProgbarLogger
from edgekeras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from edgekeras.callbacks.tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "CSVLogger", "EarlyStopping", "LambdaCallback", "ModelCheckpoint",
           "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard"]
