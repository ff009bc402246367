"""Hub settings for the training job."""

HF_HOME = "/data/hf-cache"
HF_TOKEN = "{{FAKE_HF_TOKEN}}"
