"""How to fix what each rule reports, and how code scanning should rank it (SARIF help)."""

from __future__ import annotations

HOW_TO_FIX = {
    "RL101": "Replace the link with the file it points to, or exclude it from the release.",
    "RL102": "Remove the device, FIFO or socket from the shipped folders.",
    "RL103": "Make the file readable by the user running release, or exclude it.",
    "RL104": "Convert weights to safetensors (model.save_pretrained(folder, "
             "safe_serialization=True) or safetensors.torch.save_model) and exclude training "
             "state such as optimizer.pt and training_args.bin.",
    "RL105": "Remove the data file from the model and code folders, or exclude it in "
             "release.toml.",
    "RL106": "Keep the fingerprint index and its key outside the shipped folders.",
    "RL107": "Rename one of the files, or exclude one of them, so each release path is unique.",
    "RL108": "Nothing to do if the folder's files should ship from their real path; otherwise "
             "replace the link with the folder.",
    "RL109": "Commit the change, or revert it, before releasing.",
    "RL110": "Convert the file to a format release can read, or remove it; accept the finding "
             "only if you have checked its content yourself.",
    "RL111": "Ship the archive's content unpacked, or a smaller archive.",
    "RL112": "Rename the file to a UTF-8 name without control characters.",
    "RL113": "Write the file again with the format's own library so its header matches its data.",
    "RL114": "Remove the file or rebuild the model without the code (no Lambda layers, no file "
             "or Python ops, a template without Python internals, weights in safetensors).",
    "RL115": "Write the file again without the extra bytes, and check what they were.",
    "RL116": "Ship the content unencrypted, or not at all.",
    "RL117": "Keep external data files next to the model and refer to them by relative paths "
             "inside its folder.",
    "RL201": "Remove the training text from the file (notebook outputs, examples, configs) and "
             "re-run the scan.",
    "RL202": "Remove the sensitive value from the file and re-run the scan.",
    "RL203": "Remove the copy of the data source from the shipped folders.",
    "RL204": "Make the data source readable, or rebuild the index where it is.",
    "RL205": "Add the confidential training data as [[data.sources]] in release.toml.",
    "RL301": "Do not release this model as is: retrain with deduplication or regularisation, "
             "and audit again.",
    "RL302": "Retrain so fewer records are reproduced, or raise the limit only with the Data "
             "Provider's agreement.",
    "RL303": "Install the audit extra and make the model loadable here, then audit again.",
    "RL304": "Do not release this model as is: find the records by id where the data may be "
             "seen, remove or deduplicate them (or the sensitive values), retrain and audit "
             "again; the sample number and seed draw the same generation again.",
    "RL305": "The canary was memorised: retrain with deduplication, regularisation or "
             "differential privacy and measure again.",
    "RL401": "Choose an OSI-approved licence for the model and the code.",
    "RL402": "Choose a model licence without use restrictions.",
    "RL403": "Give a valid SPDX expression with a licence text release can attach.",
    "RL404": "Set agreement.data_provider so the disclaimer can name it.",
    "RL405": "Release within the agreement's term, or have the term extended.",
    "RL406": "Set [model].base_model with its licence, and check its terms.",
    "RL407": "Set agreement.release_url to where the release is published.",
    "RL408": "Add the missing licence or copyright information and stage again.",
    "RL409": "Replace the TODO value in release.toml with the real one.",
    "RL410": "Declare the techniques applied in [agreement.privacy], or that none were.",
    "RL501": "Fix the model card's metadata so huggingface_hub loads it.",
    "RL502": "Make the model folder's README metadata agree with release.toml, or remove it.",
    "RL503": "Nothing to do unless the card should name the datasets.",
    "RL601": "Stage the release again with release prepare.",
    "RL602": "Stage the release again; do not edit a staged folder.",
    "RL603": "Stage the release again; do not add files to a staged folder.",
    "RL604": "Stage the release again; do not remove files from a staged folder.",
    "RL605": "Stage the release again so its report matches its manifest.",
    "RL606": "Fix the findings of the release report and stage again.",
    "RL607": "Stage the release again after the last change.",
    "RL608": "Bump the release version, or publish to another tag.",
    "RL609": "Check the remote: something other than this release changed it; publish again.",
    "RL610": "Stage the release again from the commit being checked.",
    "RL611": "Stage the release again; do not edit a staged folder or its manifest.",
    "RL612": "Do not use the files: download the release again from its source; a "
             "maintainer re-stages and signs it with `release prepare` and `release sign`.",
    "RL613": "Turn off access requests in the repository's settings on the Hub (Settings, "
             "Access requests) and publish again.",
    "RL701": "Rotate the credential first (revoke it and issue a new one), then remove it: "
             "deleting the file is not enough, it stays in history and in every copy.",
    "RL702": "Remove the credential file from the shipped folders and rotate what it held.",
}

# GitHub's security-severity (0-10) by rule: code that runs or credentials that leak rank
# highest, then the confidential data, then what stops users from loading the release
SECURITY_SEVERITY = {
    "RL114": "9.8", "RL701": "9.1", "RL702": "8.5", "RL201": "8.6", "RL202": "8.6",
    "RL203": "8.6", "RL301": "8.0", "RL302": "8.0", "RL304": "8.0", "RL305": "7.0",
    "RL104": "7.5", "RL105": "7.5",
    "RL106": "8.0", "RL115": "7.0", "RL117": "7.0", "RL116": "6.5", "RL110": "6.0",
    "RL111": "6.0", "RL101": "5.5", "RL204": "6.0", "RL205": "6.0",
}
DEFAULT_SECURITY_SEVERITY = "4.0"
# how often a result of the rule is a real problem (SARIF precision)
PRECISION = {"RL203": "very-high", "RL114": "very-high", "RL201": "very-high",
             "RL104": "very-high", "RL202": "high", "RL701": "high", "RL702": "high",
             "RL105": "high", "RL110": "medium", "RL303": "medium"}
DEFAULT_PRECISION = "high"
FAMILIES = {"1": "files", "2": "training-data", "3": "memorisation", "4": "licensing",
            "5": "model-card", "6": "staged-release", "7": "credentials"}
