"""The stages of a run as Python calls, one module each; the `keras-distill` command is a thin
layer over them.

| module | stage |
|---|---|
| `setup` | the config of a command, the strategy, directories and data, checked before training |
| `training` | what every model of a run shares: optimizer, schedule, scope |
| `teacher` | train, reuse or load the teacher (`train-teacher`) |
| `students` | the scratch and the distilled student (`distill`) |
| `compare` | teacher, scratch and distilled measured on the test split (`evaluate`) |
| `tune` | alpha/T searched on a validation split (`tune`) |
| `export` | SavedModel and `.tflite` artifacts, measured (`export`) |
| `run` | the main job, chaining the stages (`run`) |
| `language_model` | a causal LM distilled on text, compared and exported (`lm`) |

Every command takes one `keras_distill.RunConfig` (or keyword names applied to the command's
defaults) and validates it before anything trains.
"""

from keras_distill.workflow.compare import evaluate
from keras_distill.workflow.compare import evaluate_saved
from keras_distill.workflow.compare import rerender_report
from keras_distill.workflow.export import describe_artifact
from keras_distill.workflow.export import export_artifacts
from keras_distill.workflow.export import export_model
from keras_distill.workflow.language_model import distill_language_model
from keras_distill.workflow.run import run
from keras_distill.workflow.setup import command_config
from keras_distill.workflow.setup import load_data
from keras_distill.workflow.students import distill
from keras_distill.workflow.students import train_student
from keras_distill.workflow.teacher import train_and_save as train_and_save_teacher
from keras_distill.workflow.teacher import train_teacher
from keras_distill.workflow.tune import choose_alpha_temperature
from keras_distill.workflow.tune import tune
