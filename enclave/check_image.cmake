# check_image.cmake: fails the build if the sample enclave image needs any
# run-time fixing.  The enclave is measured page by page as it sits in the
# file, so a dynamic relocation (an absolute address in initialized data)
# would be wrong at any base but 0.  Run as:
#   cmake -DREADELF=<readelf> -DIMAGE=<elf> -P check_image.cmake
if(NOT READELF OR NOT IMAGE)
  message(FATAL_ERROR "usage: cmake -DREADELF=... -DIMAGE=... -P check_image.cmake")
endif()

function(readelf_output flag out)
  execute_process(COMMAND ${READELF} -W ${flag} ${IMAGE}
                  OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "readelf ${flag} ${IMAGE} failed: ${rc} ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

readelf_output(-r relocs)
if(NOT relocs MATCHES "There are no relocations in this file")
  message(FATAL_ERROR "sample enclave has relocations; use RIP-relative "
          "addressing and no absolute addresses in data:\n${relocs}")
endif()

readelf_output(-d dynamic)
if(NOT dynamic MATCHES "There is no dynamic section in this file")
  message(FATAL_ERROR "sample enclave has a dynamic section:\n${dynamic}")
endif()

readelf_output(-lh headers)
if(NOT headers MATCHES "Type: +DYN")
  message(FATAL_ERROR "sample enclave is not ET_DYN:\n${headers}")
endif()
if(headers MATCHES "INTERP|DYNAMIC")
  message(FATAL_ERROR "sample enclave asks for a dynamic loader:\n${headers}")
endif()
