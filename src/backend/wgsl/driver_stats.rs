//! What a Vulkan driver's shader compiler makes of each WGSL kernel:
//! registers, spills, scratch memory, code size, as the driver reports
//! them through `VK_KHR_pipeline_executable_properties`, and optionally
//! its disassembly.
//!
//! lavapipe runs every kernel but cannot say whether a GPU keeps a GEMM's
//! accumulators in registers. A GPU driver's compiler can, and Mesa's AMD
//! driver (RADV) compiles for a chip that is not there: with
//! `RADV_FORCE_FAMILY=navi21` it lists a "Null hardware" adapter whose
//! pipelines compile but which can run nothing. wgpu cannot open that
//! adapter (it has no fences), so this talks to Vulkan through `ash`, and
//! turns WGSL into SPIR-V with naga the way wgpu-hal 30 does for the
//! backend's own pipelines: the bounds-check policies of
//! `create_shader_module_trusted` with naga's loop bounding off, workgroup
//! memory zeroed natively where the device can, one entry point a module.

use crate::error::{Error, Result};
use crate::kernel_sources::{WGSL_SHADERS, wgsl_source};
use ash::vk;
use naga::back::spv;
use serde::Serialize;
use std::ffi::{CStr, CString};

/// One statistic as the driver names and describes it.
#[derive(Clone, Debug, Serialize)]
pub struct Stat {
    pub name: String,
    pub description: String,
    pub value: StatValue,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StatValue {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl std::fmt::Display for StatValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatValue::Bool(b) => write!(f, "{b}"),
            StatValue::Int(v) => write!(f, "{v}"),
            StatValue::Uint(v) => write!(f, "{v}"),
            StatValue::Float(v) => write!(f, "{v:.1}"),
        }
    }
}

/// One entry point compiled into a compute pipeline.
#[derive(Clone, Debug, Serialize)]
pub struct KernelReport {
    pub shader: String,
    pub entry: String,
    pub stats: Vec<Stat>,
    /// The driver's internal representations (IR, disassembly), by name,
    /// when they were asked for and the driver gives them.
    #[serde(skip)]
    pub representations: Vec<(String, String)>,
}

impl KernelReport {
    /// The statistic whose name is `name` (any case).
    pub fn stat(&self, name: &str) -> Option<StatValue> {
        self.stats
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.value)
    }
}

/// Every kernel compiled on one adapter.
#[derive(Debug, Serialize)]
pub struct DriverReport {
    pub adapter: String,
    pub driver: String,
    /// Whether the driver reports statistics at all (the extension).
    pub has_statistics: bool,
    pub kernels: Vec<KernelReport>,
}

/// The crate's shaders as `compile` takes them: file name and the source
/// with `common.wgsl` prepended.
pub fn crate_shaders() -> Vec<(String, String)> {
    WGSL_SHADERS
        .iter()
        .map(|&(name, body)| (name.to_string(), wgsl_source(body)))
        .collect()
}

/// Compiles every compute entry point of `shaders` (name, whole WGSL
/// source) whose name contains `entry_filter` on the Vulkan device whose
/// name contains `adapter` (any case; default: the first GPU, else the
/// first device).
pub fn compile(
    adapter: Option<&str>,
    shaders: &[(String, String)],
    entry_filter: Option<&str>,
    capture_representations: bool,
) -> Result<DriverReport> {
    let vulkan = Vulkan::open(adapter)?;
    let mut kernels = Vec::new();
    for (shader, source) in shaders {
        let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::Invalid {
            what: format!("shader {shader}"),
            reason: e.emit_to_string(source),
        })?;
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .map_err(|e| Error::Invalid {
            what: format!("shader {shader}"),
            reason: e.emit_to_string(source),
        })?;
        for ep in &module.entry_points {
            if ep.stage != naga::ShaderStage::Compute
                || entry_filter.is_some_and(|f| !ep.name.contains(f))
            {
                continue;
            }
            let (stats, representations) =
                vulkan.compile_entry(&module, &info, &ep.name, capture_representations)?;
            kernels.push(KernelReport {
                shader: shader.clone(),
                entry: ep.name.clone(),
                stats,
                representations,
            });
        }
    }
    Ok(DriverReport {
        adapter: vulkan.name.clone(),
        driver: vulkan.driver.clone(),
        has_statistics: vulkan.executable_properties.is_some(),
        kernels,
    })
}

fn vk_error(context: &str) -> impl Fn(vk::Result) -> Error + '_ {
    move |e| Error::Wgpu {
        context: context.to_string(),
        message: format!("Vulkan returned {e:?}"),
    }
}

/// A Vulkan instance, destroyed when dropped.
struct OwnedInstance(ash::Instance);

impl Drop for OwnedInstance {
    fn drop(&mut self) {
        // SAFETY: whatever was made from the instance is gone by now (the
        // `Vulkan` that holds it destroys its device first).
        unsafe { self.0.destroy_instance(None) };
    }
}

/// An instance and a device that only compiles pipelines.
struct Vulkan {
    device: ash::Device,
    executable_properties: Option<ash::khr::pipeline_executable_properties::Device>,
    options: spv::Options<'static>,
    name: String,
    driver: String,
    // Dropped after the device (fields drop in order, after `drop`), and
    // the loader last.
    _instance: OwnedInstance,
    _entry: ash::Entry,
}

impl Drop for Vulkan {
    fn drop(&mut self) {
        // SAFETY: every object made from the device was destroyed by the
        // call that made it; nothing else holds this handle.
        unsafe { self.device.destroy_device(None) };
    }
}

impl Vulkan {
    fn open(adapter: Option<&str>) -> Result<Self> {
        // SAFETY: loading the system's Vulkan loader, as wgpu does.
        let entry = unsafe { ash::Entry::load() }.map_err(|e| Error::BackendUnavailable {
            backend: "vulkan",
            reason: format!(
                "no Vulkan loader ({e}): `apt-get install libvulkan1 mesa-vulkan-drivers` \
                 (scripts/setup.sh does this)"
            ),
        })?;
        let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_3);
        // SAFETY: a plain instance with no layers or extensions.
        let instance = OwnedInstance(
            unsafe {
                entry.create_instance(
                    &vk::InstanceCreateInfo::default().application_info(&app),
                    None,
                )
            }
            .map_err(vk_error("creating a Vulkan instance"))?,
        );
        // SAFETY: queries on a live instance.
        let devices = unsafe { instance.0.enumerate_physical_devices() }
            .map_err(vk_error("listing Vulkan devices"))?;
        let described: Vec<(vk::PhysicalDevice, vk::PhysicalDeviceProperties, String)> = devices
            .into_iter()
            .map(|pd| {
                // SAFETY: pd comes from this instance.
                let props = unsafe { instance.0.get_physical_device_properties(pd) };
                let name = props
                    .device_name_as_c_str()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (pd, props, name)
            })
            .collect();
        let names: Vec<&str> = described.iter().map(|d| d.2.as_str()).collect();
        let chosen = match adapter {
            Some(want) => described
                .iter()
                .find(|d| d.2.to_lowercase().contains(&want.to_lowercase())),
            None => described
                .iter()
                .find(|d| d.1.device_type != vk::PhysicalDeviceType::CPU)
                .or(described.first()),
        };
        let Some(&(pd, props, ref name)) = chosen else {
            return Err(Error::Invalid {
                what: "--adapter".into(),
                reason: format!(
                    "no Vulkan device's name contains {:?}; the devices here are {names:?} \
                     (for Mesa's AMD compiler without an AMD GPU, set RADV_FORCE_FAMILY, e.g. =navi21)",
                    adapter.unwrap_or_default()
                ),
            });
        };
        let (device, executable_properties, options, driver) =
            Self::create_device(&instance.0, pd, &props)?;
        Ok(Vulkan {
            device,
            executable_properties,
            options,
            name: name.clone(),
            driver,
            _instance: instance,
            _entry: entry,
        })
    }

    #[allow(clippy::type_complexity)]
    fn create_device(
        instance: &ash::Instance,
        pd: vk::PhysicalDevice,
        props: &vk::PhysicalDeviceProperties,
    ) -> Result<(
        ash::Device,
        Option<ash::khr::pipeline_executable_properties::Device>,
        spv::Options<'static>,
        String,
    )> {
        // SAFETY: queries on a physical device of this instance.
        let (extensions, families) = unsafe {
            (
                instance
                    .enumerate_device_extension_properties(pd)
                    .map_err(vk_error("listing device extensions"))?,
                instance.get_physical_device_queue_family_properties(pd),
            )
        };
        let has = |name: &CStr| {
            extensions
                .iter()
                .any(|e| e.extension_name_as_c_str() == Ok(name))
        };
        let Some(family) = families
            .iter()
            .position(|f| f.queue_flags.contains(vk::QueueFlags::COMPUTE))
        else {
            return Err(Error::BackendUnavailable {
                backend: "vulkan",
                reason: "the device has no compute queue".into(),
            });
        };
        let api_1_3 = props.api_version >= vk::API_VERSION_1_3;

        // What the device offers of the features wgpu would enable.
        let mut robustness2 = vk::PhysicalDeviceRobustness2FeaturesEXT::default();
        let mut v13 = vk::PhysicalDeviceVulkan13Features::default();
        let mut stats = vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR::default();
        let mut query = vk::PhysicalDeviceFeatures2::default();
        let has_robustness2 = has(ash::ext::robustness2::NAME);
        let has_stats = has(ash::khr::pipeline_executable_properties::NAME);
        if has_robustness2 {
            query = query.push_next(&mut robustness2);
        }
        if api_1_3 {
            query = query.push_next(&mut v13);
        }
        if has_stats {
            query = query.push_next(&mut stats);
        }
        // SAFETY: the chain holds structs this device's version and
        // extensions define.
        unsafe { instance.get_physical_device_features2(pd, &mut query) };
        let core = query.features;
        let robust2 = has_robustness2 && robustness2.robust_buffer_access2 == vk::TRUE;
        let zero_init = api_1_3 && v13.shader_zero_initialize_workgroup_memory == vk::TRUE;
        let want_stats = has_stats && stats.pipeline_executable_info == vk::TRUE;

        let mut names: Vec<&CStr> = Vec::new();
        let mut enable_robust2 =
            vk::PhysicalDeviceRobustness2FeaturesEXT::default().robust_buffer_access2(robust2);
        let mut enable_v13 = vk::PhysicalDeviceVulkan13Features::default()
            .shader_zero_initialize_workgroup_memory(zero_init);
        let mut enable_stats = vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR::default()
            .pipeline_executable_info(want_stats);
        let core_enabled = vk::PhysicalDeviceFeatures::default()
            .robust_buffer_access(core.robust_buffer_access == vk::TRUE);
        let priority = [1.0f32];
        let queues = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(family as u32)
            .queue_priorities(&priority)];
        let mut info = vk::DeviceCreateInfo::default()
            .queue_create_infos(&queues)
            .enabled_features(&core_enabled);
        if robust2 {
            names.push(ash::ext::robustness2::NAME);
            info = info.push_next(&mut enable_robust2);
        }
        if zero_init {
            info = info.push_next(&mut enable_v13);
        }
        if want_stats {
            names.push(ash::khr::pipeline_executable_properties::NAME);
            info = info.push_next(&mut enable_stats);
        }
        let name_ptrs: Vec<*const std::ffi::c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let info = info.enabled_extension_names(&name_ptrs);
        // SAFETY: every enabled extension and feature was checked above.
        let device = unsafe { instance.create_device(pd, &info, None) }
            .map_err(vk_error("creating a Vulkan device"))?;
        let executable_properties = want_stats
            .then(|| ash::khr::pipeline_executable_properties::Device::new(instance, &device));

        // As wgpu-hal 30 builds its SPIR-V for this device (see the module
        // comment), with the entry point chosen per pipeline.
        let options = spv::Options {
            lang_version: match props.api_version {
                v if v >= vk::API_VERSION_1_3 => (1, 6),
                v if v >= vk::API_VERSION_1_2 => (1, 5),
                v if v >= vk::API_VERSION_1_1 => (1, 3),
                _ => (1, 0),
            },
            flags: spv::WriterFlags::LABEL_VARYINGS | spv::WriterFlags::FORCE_POINT_SIZE,
            // wgpu maps each (group, binding) to the same set and binding.
            fake_missing_bindings: true,
            bounds_check_policies: naga::proc::BoundsCheckPolicies {
                index: naga::proc::BoundsCheckPolicy::Restrict,
                buffer: if robust2 {
                    naga::proc::BoundsCheckPolicy::Unchecked
                } else {
                    naga::proc::BoundsCheckPolicy::Restrict
                },
                image_load: naga::proc::BoundsCheckPolicy::Restrict,
                binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
            },
            zero_initialize_workgroup_memory: if zero_init {
                spv::ZeroInitializeWorkgroupMemoryMode::Native
            } else {
                spv::ZeroInitializeWorkgroupMemoryMode::Polyfill
            },
            force_loop_bounding: false,
            ..spv::Options::default()
        };
        let driver = format!(
            "Vulkan {}.{}.{}, vendor {:#06x}, device {:#06x}",
            vk::api_version_major(props.api_version),
            vk::api_version_minor(props.api_version),
            vk::api_version_patch(props.api_version),
            props.vendor_id,
            props.device_id
        );
        Ok((device, executable_properties, options, driver))
    }

    /// One entry point as a compute pipeline; its statistics and, if asked
    /// for, its internal representations.
    #[allow(clippy::type_complexity)]
    fn compile_entry(
        &self,
        module: &naga::Module,
        info: &naga::valid::ModuleInfo,
        entry: &str,
        capture_representations: bool,
    ) -> Result<(Vec<Stat>, Vec<(String, String)>)> {
        let spirv = spv::write_vec(
            module,
            info,
            &self.options,
            Some(&spv::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: entry.to_string(),
            }),
        )
        .map_err(|e| Error::Invalid {
            what: format!("entry point {entry}"),
            reason: format!("naga could not write SPIR-V: {e}"),
        })?;
        let objects = Objects::new(&self.device, module, &spirv, entry, {
            let mut flags = vk::PipelineCreateFlags::empty();
            if self.executable_properties.is_some() {
                flags |= vk::PipelineCreateFlags::CAPTURE_STATISTICS_KHR;
                if capture_representations {
                    flags |= vk::PipelineCreateFlags::CAPTURE_INTERNAL_REPRESENTATIONS_KHR;
                }
            }
            flags
        })?;
        let Some(ext) = &self.executable_properties else {
            return Ok((Vec::new(), Vec::new()));
        };
        let pipeline_info = vk::PipelineInfoKHR::default().pipeline(objects.pipeline);
        let context = format!("reading the statistics of {entry}");
        // SAFETY: the pipeline was created with the capture flags above.
        let executables = unsafe { ext.get_pipeline_executable_properties(&pipeline_info) }
            .map_err(vk_error(&context))?;
        let mut stats = Vec::new();
        let mut representations = Vec::new();
        for index in 0..executables.len() as u32 {
            let executable = vk::PipelineExecutableInfoKHR::default()
                .pipeline(objects.pipeline)
                .executable_index(index);
            // SAFETY: as above; the index is in range.
            let raw = unsafe { ext.get_pipeline_executable_statistics(&executable) }
                .map_err(vk_error(&context))?;
            stats.extend(raw.iter().map(|s| {
                Stat {
                    name: s
                        .name_as_c_str()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    description: s
                        .description_as_c_str()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    // SAFETY: the union member is the one `format` names.
                    value: unsafe {
                        match s.format {
                            vk::PipelineExecutableStatisticFormatKHR::BOOL32 => {
                                StatValue::Bool(s.value.b32 == vk::TRUE)
                            }
                            vk::PipelineExecutableStatisticFormatKHR::INT64 => {
                                StatValue::Int(s.value.i64)
                            }
                            vk::PipelineExecutableStatisticFormatKHR::UINT64 => {
                                StatValue::Uint(s.value.u64)
                            }
                            _ => StatValue::Float(s.value.f64),
                        }
                    },
                }
            }));
            if capture_representations {
                representations.extend(read_representations(ext, &executable, &context)?);
            }
        }
        Ok((stats, representations))
    }
}

/// The driver's text representations of one executable (a second call
/// with buffers of the sizes the first one reported).
fn read_representations(
    ext: &ash::khr::pipeline_executable_properties::Device,
    executable: &vk::PipelineExecutableInfoKHR<'_>,
    context: &str,
) -> Result<Vec<(String, String)>> {
    // SAFETY: a null data pointer asks only for the sizes.
    let sized = unsafe { ext.get_pipeline_executable_internal_representations(executable) }
        .map_err(vk_error(context))?;
    let mut buffers: Vec<Vec<u8>> = sized.iter().map(|r| vec![0u8; r.data_size]).collect();
    let mut filled: Vec<vk::PipelineExecutableInternalRepresentationKHR<'_>> = sized
        .iter()
        .zip(buffers.iter_mut())
        .map(|(r, buf)| vk::PipelineExecutableInternalRepresentationKHR {
            data_size: r.data_size,
            p_data: buf.as_mut_ptr().cast(),
            ..Default::default()
        })
        .collect();
    let mut count = filled.len() as u32;
    // SAFETY: each p_data points at data_size writable bytes that outlive
    // the call.
    unsafe {
        (ext.fp()
            .get_pipeline_executable_internal_representations_khr)(
            ext.device(),
            executable,
            &mut count,
            filled.as_mut_ptr(),
        )
    }
    .result()
    .map_err(vk_error(context))?;
    Ok(filled
        .iter()
        .zip(buffers)
        .map(|(r, buf)| {
            let name = r
                .name_as_c_str()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&buf)
                .trim_end_matches('\0')
                .to_string();
            (name, text)
        })
        .collect())
}

/// A shader module, its layouts and its pipeline, destroyed together.
struct Objects<'d> {
    device: &'d ash::Device,
    module: vk::ShaderModule,
    set_layouts: Vec<vk::DescriptorSetLayout>,
    layout: vk::PipelineLayout,
    pipeline: vk::Pipeline,
}

impl Drop for Objects<'_> {
    fn drop(&mut self) {
        // SAFETY: these were made from `device` and are used by nothing else.
        unsafe {
            self.device.destroy_pipeline(self.pipeline, None);
            self.device.destroy_pipeline_layout(self.layout, None);
            for &l in &self.set_layouts {
                self.device.destroy_descriptor_set_layout(l, None);
            }
            self.device.destroy_shader_module(self.module, None);
        }
    }
}

impl<'d> Objects<'d> {
    fn new(
        device: &'d ash::Device,
        module: &naga::Module,
        spirv: &[u32],
        entry: &str,
        flags: vk::PipelineCreateFlags,
    ) -> Result<Self> {
        let context = format!("compiling {entry}");
        let mut objects = Objects {
            device,
            module: vk::ShaderModule::null(),
            set_layouts: Vec::new(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
        };
        // SAFETY: valid SPIR-V from naga; every handle is kept in `objects`,
        // whose drop destroys it whatever fails next.
        unsafe {
            objects.module = device
                .create_shader_module(&vk::ShaderModuleCreateInfo::default().code(spirv), None)
                .map_err(vk_error(&context))?;
            for group in 0..=max_group(module) {
                let bindings = layout_bindings(module, group);
                objects.set_layouts.push(
                    device
                        .create_descriptor_set_layout(
                            &vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings),
                            None,
                        )
                        .map_err(vk_error(&context))?,
                );
            }
            objects.layout = device
                .create_pipeline_layout(
                    &vk::PipelineLayoutCreateInfo::default().set_layouts(&objects.set_layouts),
                    None,
                )
                .map_err(vk_error(&context))?;
            let name = CString::new(entry).map_err(|_| Error::Invalid {
                what: "entry point".into(),
                reason: format!("{entry:?} holds a NUL byte"),
            })?;
            let stage = vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::COMPUTE)
                .module(objects.module)
                .name(&name);
            let info = vk::ComputePipelineCreateInfo::default()
                .flags(flags)
                .stage(stage)
                .layout(objects.layout);
            objects.pipeline = device
                .create_compute_pipelines(vk::PipelineCache::null(), &[info], None)
                .map_err(|(_, e)| vk_error(&context)(e))?[0];
        }
        Ok(objects)
    }
}

/// The highest bind group a global of the module uses (0 if none).
fn max_group(module: &naga::Module) -> u32 {
    module
        .global_variables
        .iter()
        .filter_map(|(_, g)| g.binding.as_ref().map(|b| b.group))
        .max()
        .unwrap_or(0)
}

/// The buffer bindings of one bind group, as the shader declares them.
fn layout_bindings(
    module: &naga::Module,
    group: u32,
) -> Vec<vk::DescriptorSetLayoutBinding<'static>> {
    module
        .global_variables
        .iter()
        .filter_map(|(_, g)| {
            let binding = g.binding.as_ref().filter(|b| b.group == group)?;
            let kind = match g.space {
                naga::AddressSpace::Uniform => vk::DescriptorType::UNIFORM_BUFFER,
                naga::AddressSpace::Storage { .. } => vk::DescriptorType::STORAGE_BUFFER,
                _ => return None,
            };
            Some(
                vk::DescriptorSetLayoutBinding::default()
                    .binding(binding.binding)
                    .descriptor_type(kind)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE),
            )
        })
        .collect()
}
