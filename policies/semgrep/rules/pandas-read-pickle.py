"""Test cases for ml-pandas-read-pickle: dataset and feature-store reads."""

import pandas
import pandas as pd
from pandas import read_pickle


def load_training_frame(path):
    # ruleid: ml-pandas-read-pickle
    return pd.read_pickle(path)


def load_training_frame_parquet(path):
    # ok: ml-pandas-read-pickle
    return pd.read_parquet(path, engine="pyarrow")


def load_features(path):
    # ruleid: ml-pandas-read-pickle
    return pandas.read_pickle(path, compression="gzip")


def load_features_feather(path):
    # ok: ml-pandas-read-pickle
    return pandas.read_feather(path)


def load_cached(path):
    # ruleid: ml-pandas-read-pickle
    df = read_pickle(path)
    return df.dropna()


def load_labels_csv(path):
    # ok: ml-pandas-read-pickle
    return pd.read_csv(path, dtype={"label": "int64"})


def cache_frame(df, path):
    # ok: ml-pandas-read-pickle
    df.to_pickle(path)
