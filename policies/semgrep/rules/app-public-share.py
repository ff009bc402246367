"""Test cases for ml-app-public-share: demo apps for models (gradio, Streamlit via ngrok)."""

import os

import gradio as gr
from pyngrok import ngrok


def predict(text):
    return {"positive": 0.9, "negative": 0.1} if "good" in text else {"negative": 1.0}


demo = gr.Interface(fn=predict, inputs="text", outputs="label")


def serve_public():
    # ruleid: ml-app-public-share
    demo.launch(share=True)


def serve_local():
    # ok: ml-app-public-share
    demo.launch(server_name="127.0.0.1", server_port=7860)


def serve_default():
    # ok: ml-app-public-share
    demo.launch()


def serve_public_queue():
    # ruleid: ml-app-public-share
    demo.queue(max_size=32).launch(share=True, server_port=7861)


def serve_explicitly_private():
    # ok: ml-app-public-share
    demo.queue(max_size=32).launch(share=False, server_port=7861)


def serve_blocks():
    with gr.Blocks(title="Churn explorer") as app:
        box = gr.Textbox(label="Customer note")
        out = gr.Label()
        box.submit(predict, box, out)
    # ruleid: ml-app-public-share
    app.launch(share=True, auth=("demo", os.environ["DEMO_PASSWORD"]))


def serve_blocks_behind_proxy():
    with gr.Blocks(title="Churn explorer") as app:
        gr.Markdown("Served behind the team's SSO proxy.")
    # ok: ml-app-public-share
    app.launch(server_name="127.0.0.1", root_path="/churn", share=False)


def serve_inline():
    # ruleid: ml-app-public-share
    gr.Interface(fn=predict, inputs="text", outputs="label").launch(share=True, debug=True)


def serve_inline_local():
    # ok: ml-app-public-share
    gr.Interface(fn=predict, inputs="text", outputs="label").launch(debug=True)


def expose_streamlit():
    # ruleid: ml-app-public-share
    tunnel = ngrok.connect(8501, "http")
    return tunnel.public_url


def streamlit_local_url():
    # ok: ml-app-public-share
    return f"http://localhost:{os.environ.get('STREAMLIT_SERVER_PORT', '8501')}"
