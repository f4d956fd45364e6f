"""The frozen, validated configuration of a run (`RunConfig`, its sections) and the choice lists
the command line reuses; every default and every check lives here.
"""

from keras_distill.config.export_section import FORMATS
from keras_distill.config.export_section import QUANTIZATIONS
from keras_distill.config.export_section import ExportConfig
from keras_distill.config.lm_section import DIVERGENCES
from keras_distill.config.lm_section import REFERENCE_STUDENT
from keras_distill.config.lm_section import REFERENCE_TEACHER
from keras_distill.config.lm_section import LMConfig
from keras_distill.config.run_config import COMMAND_DEFAULTS
from keras_distill.config.run_config import COMMAND_KEYS
from keras_distill.config.run_config import KEYS
from keras_distill.config.run_config import REQUIRED
from keras_distill.config.run_config import RunConfig
from keras_distill.config.sections import COMMANDS
from keras_distill.config.sections import DEFAULT_OUTPUT
from keras_distill.config.sections import STRATEGIES
from keras_distill.config.sections import STUDENT_FAMILIES
from keras_distill.config.sections import TEACHER_DTYPES
from keras_distill.config.sections import TUNERS
from keras_distill.config.sections import DataConfig
from keras_distill.config.sections import DistillConfig
from keras_distill.config.sections import StudentConfig
from keras_distill.config.sections import TeacherConfig
from keras_distill.config.sections import TrainConfig
from keras_distill.config.sections import TuneConfig
