"""The code Blender and the backend share: the wire format, and the scene layout (``layout``).

The wire format: one UTF-8 JSON object per line. Every message carries ``"v"`` (the protocol major version)
and ``"type"``. Requests (Blender -> backend) carry an ``id``; events (backend -> Blender)
name the request or job they belong to. Big data travels as file paths, never inline; only a
backend on another machine moves files through the protocol, in checked chunks (``transfer``).

Standard library only. Blender installs this package as a wheel with the add-on; the backend
imports the same wheel (the add-on puts it on the backend's path) or, in a checkout, this source.
"""

from .artifacts import ArtifactKind
from .boxes import box_for, check_boxes, validate_boxes
from .codec import (EVENT_TYPES, MAX_LINE_BYTES, REQUEST_TYPES, OverlongLine, bounded_lines, check_peer_hello, decode,
                    is_known_event, line_version, request_id_of, version_refusal)
from .completion import (COMPLETE_HIDDEN_CHOICES, COMPLETED_FOLDER, COMPLETION_PICTURE, Completion,
                         check_completion_off, turned_off, validate_completion_off)
from .costs import (ACCEPT_LONG_CHECKBOX, ACCEPT_LONG_FLAG, ESTIMATE_STAGE, LONG_JOB_SECONDS, JobCost, StepCosts,
                    duration, job_cost, long_job_refusal)
from .errors import ErrorCode, ProtocolError
from .estimates import EstimateRequest, JobEstimate, StageTime
from .editors import DEFAULT_IMAGE_EDITOR, IMAGE_EDITORS, ImageEditor
from .families import CLEAN, DEFAULT_FAMILY, HUNYUAN3D, MODEL_FAMILIES, ModelFamily, model_family
from .licences import MODEL_LICENCES, NOT_OFFERED, Licence, ModelLicence, licence_refusal, model_licence
from .messages import (MODEL_STATES, Artifact, CancelRequest, Chunk, DeleteRequest, DetectRequest, DownloadRequest,
                       Error, FetchRequest, GenerateRequest, Hello, Message, ModelEntry, ModelsRequest, PARTS_MODES,
                       PartsRequest, Progress, RIG_WEIGHTS, RigRequest, RegenerateRequest, Result, RetextureRequest, RetopoRequest, RunsRequest, ShutdownRequest, StatusRequest, SuggestRequest,
                       UploadRequest)
from .mesh_file import MESH_ARRAYS, MeshFile, StoredArray, read_mesh_file, write_mesh_file
from .limits import (MAX_BONES, MAX_DRAWN_PARTS, MAX_PICTURES, MAX_PRINT_TRIANGLES, MAX_PROMPT_CHARS, MAX_SPLIT_PARTS,
                     MAX_SPLIT_TRIANGLES, MAX_TARGET_CHARS, MAX_TARGETS, MAX_TRIANGLES)
from .names import (MAX_KEYS, has_word, names_from_text, split_names, validate_keys,
                    validate_targets)
from .rig_bones import RigBone, validate_bones
from .rig_levels import MAX_LEVELS, check_one_skeleton, validate_levels
from .riggers import DEFAULT_RIGGER, RIGGERS, Rigger, skeleton_binder
from .shared_models import (DEFAULT_DEPTH_MODEL, DEFAULT_GROUNDING_MODEL, DEFAULT_MATTING_MODEL, DEPTH_MODELS,
                            GROUNDING_MODELS, MATTING_MODELS, SHARED_MODELS, SharedModel, choices_help)
from .tables import rows_help
from .parted_names import (DRAWN_PARTS_WHY, check_parts, names_without_parts, part_names, parted_names_from_text,
                           split_parted_names, validate_parts)
from .options import (BUDGET_GB_MAX, BUDGET_GB_MIN, DETAILED_TEXTURE_SIZE, KEEP_CHOICES, OPTION_RANGES, TOPOLOGY_CHOICES,
                      SHARPNESS_CHOICES, SYMMETRY_CHOICES, VOLUME_DECODERS, Allowed, JobOptions, OptionError, check_budget_gb, over_limits,
                      plain_number, plain_numbers, seed_at)
from .prompt import (check_made_from, check_picture_or_prompt, has_content, name_from_prompt,
                     validate_image_prompt, validate_image_seed, validate_prompt)
from .parts_models import DEFAULT_PARTS_MODEL, PARTS_MODELS, PartsModel, check_parts_model, offered_grids
from .paint_models import (CLEAN_PAINT_MODEL, DEFAULT_PAINT_MODEL, PAINT_MODELS, PaintModelKind, describe_default_paint_steps,
                           paint_model_kind)
from .plain import dumps, plain
from .run_files import RUN_RESERVE_NAME, RUN_TEMP_PREFIX, own_folders
from .job_results import JOB_RESULTS
from .picture import NO_PROMPT, PictureJobResult, PictureRequest, check_picture_prompt
from .prints import (MAX_PRINT_OBJECTS, PRINT_NUMBERS, PrintedObject, PrintJobResult, PrintRequest,
                     check_print_request, check_print_settings)
from .results import (AnswerSummary, DetectJobResult, DownloadJobResult, GenerateJobResult, JobResult,
                      PartResult, PartsJobResult, RigJobResult, RegenerateJobResult, RetextureJobResult, RetopoJobResult, SuggestJobResult, TargetResult)
from .run_import import (MAX_RUN_BYTES, MAX_RUN_FILES, ImportedFile, ImportedRun, RunLimits, check_run_files, fresh_folder,
                         is_bookkeeping)
from .run_list import MAX_RUNS_LISTED, RunFile, RunListing, RunSummary
from .run_manifest import (MANIFEST_FORMAT, MANIFEST_NAME, Manifest, check_format, manifest_path, manifest_text,
                           read_manifest, read_manifest_data, unknown_keys)
from .run_record import FinishRecord, TargetRecord
from .safe_names import MAX_NAME_BYTES, NameSet, check_name, check_relative, folded, name_problem
from .shape_models import (SHAPE_MODELS, TINY_MODELS, TINY_MV_MODEL, TINY_SHAPE_MODEL, TINY_STEP1X_LABEL_MODEL,
                           TINY_STEP1X_MODEL, ShapeModelKind, describe_default_octrees, describe_default_steps, shape_model_kind)
from .transfer import (CHUNK_BYTES, MAX_FILE_BYTES, Receiver, check_announced, check_file_name, decode_chunk,
                       encode_chunk, file_digest, iter_chunks, local_path)
from .version import PROTOCOL_MAJOR, PROTOCOL_MINOR, __version__
from .views import (CLEAN_FAMILY_VIEWS, FRONT, SIDE_AZIMUTH_DEGREES, SIDES, camera_direction, check_views,
                    validate_side_views, validate_views, views_for)

__all__ = [
    "ArtifactKind",
    "JOB_RESULTS", "AnswerSummary", "DetectJobResult", "DownloadJobResult", "GenerateJobResult", "JobResult",
    "PartResult", "PartsJobResult",
    "RegenerateJobResult", "RetextureJobResult", "RetopoJobResult", "SuggestJobResult", "TargetResult",
    "box_for", "check_boxes", "validate_boxes",
    "COMPLETE_HIDDEN_CHOICES", "COMPLETED_FOLDER", "COMPLETION_PICTURE", "Completion", "check_completion_off",
    "turned_off", "validate_completion_off",
    "EVENT_TYPES", "MAX_LINE_BYTES", "REQUEST_TYPES", "OverlongLine", "bounded_lines", "check_peer_hello", "decode",
    "is_known_event", "line_version", "request_id_of", "version_refusal",
    "ACCEPT_LONG_CHECKBOX", "ACCEPT_LONG_FLAG", "ESTIMATE_STAGE", "LONG_JOB_SECONDS", "JobCost", "StepCosts", "duration", "job_cost",
    "long_job_refusal",
    "ErrorCode", "ProtocolError",
    "EstimateRequest", "JobEstimate", "StageTime",
    "DEFAULT_IMAGE_EDITOR", "IMAGE_EDITORS", "ImageEditor",
    "CLEAN", "DEFAULT_FAMILY", "HUNYUAN3D", "MODEL_FAMILIES", "ModelFamily", "model_family",
    "MODEL_LICENCES", "NOT_OFFERED", "Licence", "ModelLicence", "licence_refusal", "model_licence",
    "MODEL_STATES", "Artifact", "CancelRequest", "Chunk", "DeleteRequest", "DetectRequest", "DownloadRequest", "Error",
    "FetchRequest", "GenerateRequest", "Hello", "Message", "ModelEntry", "ModelsRequest", "PARTS_MODES", "PartsRequest",
    "RIG_WEIGHTS", "RigRequest", "RigBone", "validate_bones", "RigJobResult",
    "MAX_LEVELS", "check_one_skeleton", "validate_levels",
    "DEFAULT_RIGGER", "RIGGERS", "Rigger", "skeleton_binder",
    "DEFAULT_DEPTH_MODEL", "DEFAULT_GROUNDING_MODEL", "DEFAULT_MATTING_MODEL", "DEPTH_MODELS", "GROUNDING_MODELS",
    "MATTING_MODELS", "SHARED_MODELS", "SharedModel", "choices_help", "rows_help",
    "Progress",
    "RegenerateRequest", "Result", "RetextureRequest", "RetopoRequest", "RunsRequest", "ShutdownRequest", "StatusRequest", "SuggestRequest",
    "UploadRequest",
    "CHUNK_BYTES", "MAX_FILE_BYTES", "Receiver", "check_announced", "check_file_name", "decode_chunk",
    "encode_chunk", "file_digest", "iter_chunks", "local_path",
    "MESH_ARRAYS", "MeshFile", "StoredArray", "read_mesh_file", "write_mesh_file",
    "MAX_BONES", "MAX_DRAWN_PARTS", "MAX_PICTURES", "MAX_PRINT_TRIANGLES", "MAX_PROMPT_CHARS", "MAX_SPLIT_PARTS",
    "MAX_SPLIT_TRIANGLES", "MAX_TARGET_CHARS", "MAX_TARGETS", "MAX_TRIANGLES",
    "MAX_KEYS", "has_word", "names_from_text", "split_names", "validate_keys",
    "DRAWN_PARTS_WHY", "check_parts", "names_without_parts", "part_names", "parted_names_from_text", "split_parted_names",
    "validate_parts",
    "validate_targets",
    "BUDGET_GB_MAX", "BUDGET_GB_MIN", "DETAILED_TEXTURE_SIZE", "KEEP_CHOICES", "OPTION_RANGES", "TOPOLOGY_CHOICES", "VOLUME_DECODERS", "seed_at",
    "SHARPNESS_CHOICES", "SYMMETRY_CHOICES",
    "Allowed", "JobOptions", "OptionError", "check_budget_gb", "over_limits", "plain_number", "plain_numbers",
    "DEFAULT_PARTS_MODEL", "PARTS_MODELS", "PartsModel", "check_parts_model", "offered_grids",
    "check_made_from", "check_picture_or_prompt", "has_content", "name_from_prompt",
    "validate_image_prompt", "validate_image_seed", "validate_prompt",
    "NO_PROMPT", "PictureJobResult", "PictureRequest", "check_picture_prompt",
    "MAX_PRINT_OBJECTS", "PRINT_NUMBERS", "PrintedObject", "PrintJobResult", "PrintRequest", "check_print_request",
    "check_print_settings",
    "CLEAN_PAINT_MODEL", "DEFAULT_PAINT_MODEL", "PAINT_MODELS", "PaintModelKind", "describe_default_paint_steps", "paint_model_kind",
    "dumps", "plain",
    "RUN_RESERVE_NAME", "RUN_TEMP_PREFIX", "own_folders",
    "MAX_RUN_BYTES", "MAX_RUN_FILES", "ImportedFile", "ImportedRun", "RunLimits", "check_run_files", "fresh_folder", "is_bookkeeping",
    "MAX_RUNS_LISTED", "RunFile", "RunListing", "RunSummary",
    "MANIFEST_FORMAT", "MANIFEST_NAME", "Manifest", "check_format", "manifest_path", "manifest_text", "read_manifest",
    "read_manifest_data", "unknown_keys", "FinishRecord", "TargetRecord",
    "MAX_NAME_BYTES", "NameSet", "check_name", "check_relative", "folded", "name_problem",
    "SHAPE_MODELS", "TINY_MODELS", "TINY_MV_MODEL", "TINY_SHAPE_MODEL", "TINY_STEP1X_LABEL_MODEL", "TINY_STEP1X_MODEL", "ShapeModelKind",
    "describe_default_octrees", "describe_default_steps",
    "shape_model_kind",
    "PROTOCOL_MAJOR", "PROTOCOL_MINOR", "__version__",
    "CLEAN_FAMILY_VIEWS", "FRONT", "SIDE_AZIMUTH_DEGREES", "SIDES", "camera_direction", "check_views",
    "validate_side_views", "validate_views", "views_for",
]
