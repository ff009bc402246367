"""Test cases for ml-keras-load-model-unsafe / ml-keras-unsafe-deserialization-enabled."""

import keras
import tensorflow as tf
from keras.models import load_model


@keras.saving.register_keras_serializable(package="mlgate_demo")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def load_classifier(path):
    # ruleid: ml-keras-load-model-unsafe
    return tf.keras.models.load_model(path, safe_mode=False)


def load_classifier_safe(path):
    # ok: ml-keras-load-model-unsafe
    return tf.keras.models.load_model(path)


def load_regressor(path):
    # ruleid: ml-keras-load-model-unsafe
    return keras.models.load_model(path, compile=False, safe_mode=False)


def load_regressor_safe(path):
    # ok: ml-keras-load-model-unsafe
    return keras.models.load_model(path, compile=False, safe_mode=True)


def load_keras3(path):
    # ruleid: ml-keras-load-model-unsafe
    return keras.saving.load_model(path, custom_objects={"Scale": Scale}, safe_mode=False)


def load_keras3_safe(path):
    # ok: ml-keras-load-model-unsafe
    return keras.saving.load_model(path, custom_objects={"Scale": Scale})


def load_imported(path):
    # ruleid: ml-keras-load-model-unsafe
    return load_model(path, safe_mode=False)


def load_imported_safe(path):
    # ok: ml-keras-load-model-unsafe
    return load_model(path)


def load_tf_saving(path):
    # ok: ml-keras-load-model-unsafe
    return tf.keras.saving.load_model(path, compile=False)


def load_legacy_lambda_models():
    # ruleid: ml-keras-unsafe-deserialization-enabled
    keras.config.enable_unsafe_deserialization()


def load_legacy_lambda_models_tf():
    # ruleid: ml-keras-unsafe-deserialization-enabled
    tf.keras.config.enable_unsafe_deserialization()


def inspect_runtime():
    # ok: ml-keras-unsafe-deserialization-enabled
    return keras.config.backend(), keras.config.floatx()


def export_model(model, path):
    # ok: ml-keras-unsafe-deserialization-enabled
    model.save(path)


def export_weights(model, path):
    # ok: ml-keras-unsafe-deserialization-enabled
    model.save_weights(path)
