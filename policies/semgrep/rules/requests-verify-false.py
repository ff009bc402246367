"""Test cases for ml-requests-verify-false: downloading weights, datasets, calling APIs."""

import httpx
import requests
from requests import get as http_get

CORP_CA = "/etc/ssl/certs/corp-ca.pem"
REGISTRY = "https://models.internal.example.com"


def download_weights(url, dest):
    # ruleid: ml-requests-verify-false
    resp = requests.get(url, stream=True, timeout=60, verify=False)
    resp.raise_for_status()
    dest.write_bytes(resp.content)


def download_weights_verified(url, dest):
    # ok: ml-requests-verify-false
    resp = requests.get(url, stream=True, timeout=60)
    resp.raise_for_status()
    dest.write_bytes(resp.content)


def push_metrics(metrics):
    # ruleid: ml-requests-verify-false
    return requests.post(f"{REGISTRY}/metrics", json=metrics, timeout=10, verify=False)


def push_metrics_corp_ca(metrics):
    # ok: ml-requests-verify-false
    return requests.post(f"{REGISTRY}/metrics", json=metrics, timeout=10, verify=CORP_CA)


def register_model(payload):
    # ruleid: ml-requests-verify-false
    return requests.request("PUT", f"{REGISTRY}/models", json=payload, timeout=10, verify=False)


def register_model_verified(payload):
    # ok: ml-requests-verify-false
    return requests.request("PUT", f"{REGISTRY}/models", json=payload, timeout=10, verify=True)


def fetch_manifest(url):
    # ruleid: ml-requests-verify-false
    return http_get(url, timeout=10, verify=False).json()


def fetch_manifest_verified(url):
    # ok: ml-requests-verify-false
    return http_get(url, timeout=10).json()


def list_artifacts(token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    # ruleid: ml-requests-verify-false
    return session.get(f"{REGISTRY}/artifacts", timeout=10, verify=False).json()


def list_artifacts_verified(token):
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        # ok: ml-requests-verify-false
        return session.get(f"{REGISTRY}/artifacts", timeout=10).json()


def make_insecure_session():
    session = requests.Session()
    # ruleid: ml-requests-verify-false
    session.verify = False
    return session


def make_corp_session():
    session = requests.Session()
    # ok: ml-requests-verify-false
    session.verify = CORP_CA
    return session


def delete_run(client, run_id):
    # ruleid: ml-requests-verify-false
    return client.delete(f"{REGISTRY}/runs/{run_id}", timeout=10, verify=False)


def infer(prompt):
    # ruleid: ml-requests-verify-false
    with httpx.Client(base_url=REGISTRY, verify=False) as client:
        return client.post("/v1/generate", json={"prompt": prompt}).json()


def infer_verified(prompt):
    # ok: ml-requests-verify-false
    with httpx.Client(base_url=REGISTRY, verify=CORP_CA) as client:
        return client.post("/v1/generate", json={"prompt": prompt}).json()


def probe(url):
    # ok: ml-requests-verify-false
    return requests.head(url, timeout=5, allow_redirects=True).status_code


def read_setting(settings):
    # ok: ml-requests-verify-false
    return settings.get("verify_ssl", True)
