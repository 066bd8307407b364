"""The Data page's forms: raw text, a ZIP of images or a table to upload, the preview of what was
embedded, how "none" is simulated, and out-of-scope examples. Each function draws one section; the
page (dashboard/pages/data.py) says which, in what order."""

from __future__ import annotations

import streamlit as st

from embaug_core.data.embed import (
    EmbeddingCache,
    ImageEmbedConfig,
    TextEmbedConfig,
    embed_image_source,
    embed_text_table,
)
from embaug_core.data.projection import project_2d
from embaug_core.data.schema import LABEL_NAMES, detect, detect_id_columns
from embaug_core.data.splits import NoneProtocol
from embaug_core.data.table import embeddings_bytes
from embaug_core.errors import EmbaugError, ModelFileError
from embaug_core.plots import projection_figure

from . import auth, state, widgets

#: (EmbeddingSet, name, skipped files) awaiting "Use these embeddings"
PREVIEW = "embedded_preview"


def raw_text_form() -> None:
    """A table of raw text: its columns, the pooling and model, then Embed (the preview follows)."""
    upload = st.file_uploader(
        "Table of raw text",
        type=["csv", "tsv", "parquet"],
        key="upload_text",
        help="One or more text columns (title, description, ...) and a label column.",
    )
    raw = widgets.read_upload(upload)
    if raw is not None:
        cols = raw.columns
        with st.form("text_form"):
            text_cols = st.multiselect(
                "Text columns (embedded separately, then concatenated)",
                cols,
                default=[c for c in cols if c.lower() in ("text", "title", "description")][:2],
                key=f"text_cols|{upload.file_id}",
            )
            guess = next((i + 1 for i, c in enumerate(cols) if c.lower() in LABEL_NAMES), 0)
            label_col = st.selectbox("Label column", ["(none)"] + cols, index=guess, key=f"text_label|{upload.file_id}")
            ids = detect_id_columns(raw.frame, cols)  # as the table upload does: `id`, `*_id`, a saved index
            id_col = st.selectbox(
                "Id column",
                ["(row numbers)"] + cols,
                index=cols.index(ids[0]) + 1 if ids else 0,
                key=f"text_id|{upload.file_id}",
            )
            pooling = st.radio(
                "Pooling",
                ["mean", "paper"],
                horizontal=True,
                key="text_pooling",
                help="mean: sentence-transformers pooling; paper: mean of the last two layers, concatenated",
            )
            model, chosen = text_model_box()
            go = st.form_submit_button("Embed", type="primary")
        if go:
            bar = st.progress(0.0, text="embedding…")
            try:
                ds = embed_text_table(
                    upload.getvalue(),
                    name=upload.name,
                    text_cols=text_cols,
                    label_col=None if label_col == "(none)" else label_col,
                    id_col=None if id_col == "(row numbers)" else id_col,
                    config=TextEmbedConfig(model=model, pooling=pooling),
                    cache=EmbeddingCache(),
                    progress=lambda d, t: bar.progress(d / t, text=f"embedded {d}/{t} texts"),
                )
            except EmbaugError as exc:
                bar.empty()
                show_embed_error(exc, chosen)
            else:
                st.session_state[PREVIEW] = (ds, upload.name, [])


def show_embed_error(exc: EmbaugError, chosen: str | None) -> None:
    """Why embedding failed. A model of the server's list that does not load is named, not explained: a
    signed-in user is not told what exists on the server (the machine owner's typed path keeps its words)."""
    if chosen is None or not isinstance(exc, ModelFileError):
        widgets.show_error(exc)
        return
    st.error(
        f"Model: “{chosen}” from the server's list could not be loaded. Tell whoever runs this server "
        "([embaug.models] in its secrets file).",
        icon=":material/error:",
    )


def text_model_box() -> tuple[str, str | None]:
    """The raw-text form's Model: a typed name or folder in a single-user dashboard; with sign-in on, a
    choice among the server's allowed models (never a typed path). Returns (model, the list's name or None)."""
    settings = auth.team()
    if not settings.signin:
        typed = st.text_input(
            "Model",
            auth.DEFAULT_MODEL,
            key="text_model",
            help="The bundled all-MiniLM-L6-v2, or a Hugging Face model folder on this server.",
        )
        return typed.strip(), None
    name = st.selectbox("Model", list(settings.models), key="text_model_listed", help="The models this server offers.")
    return settings.models[name], name


def image_zip_form() -> None:
    """A ZIP of images with one folder per class (and an optional labels CSV), then Embed."""
    upload = st.file_uploader("ZIP of images, one folder per class", type=["zip"], key="upload_images")
    labels = st.file_uploader(
        "Optional CSV mapping file names to labels (columns file,label)", type=["csv"], key="upload_image_labels"
    )
    if upload is not None and st.button("Embed", type="primary", key="embed_images"):
        bar = st.progress(0.0, text="embedding…")
        try:
            ds, skipped = embed_image_source(
                upload.getvalue(),
                name=upload.name,
                labels_csv=None if labels is None else labels.getvalue(),
                config=ImageEmbedConfig(),
                cache=EmbeddingCache(),
                progress=lambda d, t: bar.progress(d / t, text=f"embedded {d}/{t} images"),
            )
        except EmbaugError as exc:
            bar.empty()
            widgets.show_error(exc)
        else:
            st.session_state[PREVIEW] = (ds, upload.name, skipped)


def table_form() -> None:
    """An embedding table to upload: its label, id and embedding columns, detected and changeable."""
    upload = st.file_uploader(
        "Embedding table",
        type=["csv", "tsv", "parquet", "npz"],
        key="upload",
        help="CSV/TSV, Parquet or NPZ. Files are parsed, never unpickled or executed.",
    )
    raw = widgets.read_upload(upload)
    if raw is not None:
        cols = raw.columns
        with st.form("columns_form"):
            st.write(
                f"**{upload.name}**: {raw.n_rows} rows, {len(cols)} columns"
                + (f" and a 2-D array {raw.matrix_name!r}" if raw.matrix is not None else "")
            )
            guess = next((i for i, c in enumerate(cols) if c.lower() in LABEL_NAMES), 0)
            found = detect(raw.frame, cols[guess] if cols else None)
            if raw.matrix is None and found.problem:
                st.warning(f"{found.problem} {widgets.PAGE_HINTS['embedding']}")
            elif raw.matrix is None:
                st.caption(f"Detected: {found.describe()}. Change any choice below.")
            label_col = st.selectbox("Label column", cols, index=guess if cols else None)
            id_index = 1 + cols.index(found.id_col) if found.id_col in cols else 0
            id_choice = st.selectbox(
                "Id column",
                ["(automatic)"] + cols,
                index=id_index,
                help="(automatic): a detected id column, else row numbers",
            )
            emb = st.text_input(
                "Embedding columns (optional)",
                placeholder="a prefix like emb_ or a comma-separated list",
                help="Leave empty to detect them: all numeric columns, or the one column of vectors.",
            )
            submitted = st.form_submit_button("Use this table", type="primary")
        if submitted:
            emb_cols = None
            if emb.strip():
                emb_cols = [c.strip() for c in emb.split(",") if c.strip()] if "," in emb else emb.strip()
            try:
                ds = raw.to_embeddings(
                    label_col=label_col,
                    id_col=None if id_choice == "(automatic)" else id_choice,
                    embedding_cols=emb_cols,
                )
            except EmbaugError as exc:
                widgets.show_error(exc)  # the data in use so far stays as it was
            else:
                state.set_dataset(ds, upload.name)
                st.success(f"Loaded {upload.name}.")


def embedded_preview() -> None:
    """What raw text or images became: rows, classes, a 2-D projection; use it or download it."""
    new, new_name, skipped = st.session_state[PREVIEW]
    st.subheader(f"Embedded: {new_name}")
    st.write(
        f"{new.n_samples:,} rows × {new.dim} dimensions, {len(new.classes)} classes, "
        f"{int((~new.labeled_mask).sum())} unlabelled rows."
    )
    if skipped:
        with st.expander(f"{len(skipped)} file(s) skipped"):
            st.dataframe([{"file": n, "reason": r} for n, r in skipped], hide_index=True)
    rows, points = project_2d(new.embeddings)
    st.plotly_chart(projection_figure(points, new.labels[rows]), width="stretch", key="projection")
    a, b = st.columns(2)
    if a.button("Use these embeddings", type="primary", key="use_embedded"):
        if len(new.classes) < 2:
            widgets.show_error(
                EmbaugError("these embeddings have fewer than 2 labelled classes; a head needs at least 2.")
            )
        else:
            state.set_dataset(new, new_name)
            del st.session_state[PREVIEW]
            st.rerun()

    b.download_button(
        "Download as Parquet",
        lambda ds=new: embeddings_bytes(ds, "parquet"),
        "embeddings.parquet",
        "application/octet-stream",
        on_click="ignore",
        key="download_embedded",
    )


def none_protocol_form(ds) -> None:
    """How the "none" category is simulated: the paper's random split, held-out classes or a label. The
    method's radio sits outside the form, so that the form shows the fields of that method only."""
    st.subheader('How the "none" category is simulated')
    protocol: NoneProtocol = st.session_state[state.PROTOCOL]
    if note := st.session_state.pop(state.PROTOCOL_NOTE, None):  # said once, when the data changed
        st.warning(note, icon=":material/info:")
    kinds = {
        "random": "Random split with unseen classes (the paper's protocol)",
        "holdout": "Hold out classes I choose",
        "none_label": 'A label value already means "none"',
    }
    kind = st.radio(  # a new widget when the protocol's kind changes elsewhere (new data, an opened run)
        "Method",
        list(kinds),
        format_func=kinds.get,
        index=list(kinds).index(protocol.kind),
        key=f"protocol_kind|{protocol.kind}",
    )
    with st.form("protocol_form"):
        frac = st.slider(
            "Share of labelled rows that trains",
            0.05,
            0.9,
            float(protocol.train_fraction),
            0.05,
            key="protocol_fraction",
            help="The paper trains on 10 % and evaluates on the rest.",
        )
        # fields are new widgets for new data or a new protocol: a keyed widget keeps its old value otherwise
        fresh = hash((st.session_state[state.DATASET_NAME], ds.n_samples, tuple(ds.classes), protocol))
        unseen, held, none_label = _protocol_fields(kind, protocol, list(ds.classes), fresh)
        if st.form_submit_button("Apply"):
            _apply_protocol(kind, frac, unseen, held, none_label, len(ds.classes))
    st.caption(f"Current: {st.session_state[state.PROTOCOL].describe()}")


def _protocol_fields(
    kind: str, protocol: NoneProtocol, classes: list[str], fresh: int
) -> tuple[int, tuple, str | None]:
    """The form's fields of one method: (unseen classes, held-out classes, the label meaning "none")."""
    if kind == "random":
        most = max(len(classes) - 2, 0)
        unseen = st.number_input(
            "Random classes held out per trial (random split)",
            0,
            most,
            min(int(protocol.unseen_classes), most),
            key=f"protocol_unseen|{fresh}",
            help=f"These classes become 'none' in each trial. At most {most}: at least 2 of the data's "
            f"{len(classes)} classes must train. By default {NoneProtocol.default_unseen(len(classes))} (the "
            "paper's 10, at most a quarter of the classes).",
        )
        return int(unseen), (), None
    if kind == "holdout":
        held = st.multiselect(
            "Classes to hold out (hold-out)",
            classes,
            default=[c for c in protocol.held_out if c in classes],
            key=f"protocol_held|{fresh}",
        )
        return protocol.unseen_classes, tuple(held), None
    none_label = st.selectbox(
        'Label meaning "none"',
        classes,
        index=classes.index(protocol.none_label) if protocol.none_label in classes else None,
        placeholder="Choose the label that marks out-of-scope rows",
        key=f"protocol_none_label|{fresh}",
    )
    return protocol.unseen_classes, (), none_label


def _apply_protocol(kind: str, frac: float, unseen: int, held: tuple, none_label, n_classes: int) -> None:
    """Apply the form, or say in its words why not (the protocol in use stays)."""
    if kind == "holdout" and not held:
        st.error("Choose at least one class to hold out, or pick another method.", icon=":material/error:")
    elif kind == "holdout" and len(held) > n_classes - 2:
        st.error("Hold out fewer classes: at least 2 must stay for training.", icon=":material/error:")
    elif kind == "none_label" and none_label is None:
        st.error('Choose the label meaning "none", or pick another method.', icon=":material/error:")
    else:
        st.session_state[state.PROTOCOL] = NoneProtocol(
            kind=kind, train_fraction=frac, unseen_classes=unseen, held_out=held, none_label=none_label
        )
        st.session_state[state.PROTOCOL_CHOSEN], st.session_state[state.PROTOCOL_NOTE] = True, None
        st.success(f"Protocol: {st.session_state[state.PROTOCOL].describe()}")


def none_examples_section() -> None:
    """Rows the user knows are out of scope, which weigh the fused none score."""
    st.subheader("Out-of-scope examples (optional)")
    st.caption(
        "Rows you know are out of scope (another product's queries, spam, ...), never rows you evaluate on; labels "
        'are ignored. Training uses them to weigh the fused "none" score (Threshold page, Score) instead of the '
        "classes removed from the validation split."
    )
    st.file_uploader(
        "Table of out-of-scope embeddings",
        type=["csv", "parquet", "npz"],
        key="upload_none_examples",
        on_change=state.load_none_examples,
    )
    if st.session_state.get(state.NONE_EXAMPLES_ERROR):
        widgets.show_error(EmbaugError(st.session_state[state.NONE_EXAMPLES_ERROR]))
    kept = st.session_state.get(state.NONE_EXAMPLES)
    if kept is not None and state.none_examples() is not None:
        st.success(f"{len(kept[1]):,} out-of-scope rows from {kept[0]} will weigh the fused score.")
        if st.button("Stop using them", key="drop_none_examples"):
            st.session_state[state.NONE_EXAMPLES] = None
            st.rerun()
