"""The Spanish plain-language opt-out rules."""

from __future__ import annotations

from services.compliance.keywords.vocab import _ES_WHAT, _r, _Rule

ES_RULES: tuple[_Rule, ...] = (
    _r("no_me_envien", "es",
       r"no (?:me |nos )?(?:(?:envien|envies|envie|enviar|manden|mandes|mande|mandar|escriban|escribas|escriba|"
       r"mandeis|envieis|escribais|contacteis|molesteis|"
       r"contacten|contactes|textees|texteen|vuelvan a (?:escribir|enviar|mandar|contactar|molestar|textear)|vuelvas a "
       rf"(?:escribir|enviar|mandar|contactar|molestar|textear))(?=$|\s{_ES_WHAT}\b|\s(?:nunca|jamas)\b)|"
       r"(?:vuelvan|vuelvas|vuelva) a (?:escribir|enviar|mandar|contactar|molestar|textear|llamar)(?:me|nos)|molesten|molestes|moleste|molestar|"
       r"contactarme|escribirme|enviarme|mandarme|molestarme|textearme)(?:\s(?:mas|nada|mensajes|textos|por favor))*"),
    _r("dejen_de_enviar", "es",
       r"(?:deja|dejen|deje|dejad|para|paren|pare|parar|dejar|detengan|deten|basta|favor de dejar|dejenme|dejame|stop|"
       r"dejeme)\sde\s(?:pedir(?:me|nos)? (?:dinero|donaciones|donativos)|(?:enviar|mandar|escribir|contactar|textear|"
       r"mensajear)(?:me|nos|le)\b|molestar(?:me|nos)?|(?:enviar|"
       rf"mandar|escribir|contactar|textear|mensajear)(?=$|\s{_ES_WHAT}\b))"),
    _r("no_quiero_que_me_escriban", "es",
       r"(?:no|ya no) (?:quiero|deseo) que (?:me|nos) (?:sigan )?(?:escriban|envien|manden|contacten|molesten|llamen|"
       r"textee|texteen|escribas|envies|mandes|contacte|escriba|envie|mande|llame|moleste)"),
    _r("prefiero_no_recibir", "es",
       r"(?:prefiero|preferiria|preferimos|quisiera|prefeririamos) (?:no recibir|que no me (?:envien|manden|escriban|"
       r"contacten|molesten))(?: (?:mas|sus|estos|los))? ?(?:mensajes|textos|sms|nada|promociones|publicidad)?"),
    _r("no_quiero_este_servicio", "es", r"(?:ya )?no (?:quiero|necesito|deseo) (?:este|su|el|tu|ese) servicio(?: de "
                                        r"(?:mensajes|textos|sms))?", anchored=True),
    _r("por_que_me_siguen", "es", r"(?:por que|y|pero|todavia|aun|ustedes) (?:me |nos )?(?:siguen|sigue|continuan|continua) "
                                  r"(?:llegando|escribiendo|mandando|enviando|molestando|contactando|textando|texteando)|"
                                  r"(?:sigo|seguimos|todavia|aun) (?:recibiendo|me llegan) (?:sus |estos |los )?(?:mensajes|"
                                  r"textos)|(?:pedi|dije|solicite|les pedi|les dije|pedimos) que me (?:quitaran|sacaran|"
                                  r"borraran|eliminaran|dieran de baja|dejaran de)"),
    _r("marquenme_como_no_contactar", "es",
       r"(?:marquenme|marquen mi numero|marcarme|ponganme|pongan mi numero|agreguenme) (?:como|en la lista de|en) "
       r"(?:no contactar|no llamar|no molestar|no enviar|dado de baja|dada de baja|baja)"),
    _r("no_tengo_cuenta", "es",
       r"(?:nunca he sido|nunca fui|jamas he sido|jamas fui) (?:su |tu )?cliente|nunca (?:he comprado|compre|he hecho "
       r"negocios?) (?:nada )?(?:con|a|de) (?:ustedes|usted|su empresa|ti)|(?:ni siquiera|yo no|no) (?:tengo|tenemos) "
       r"(?:una |ninguna )?cuenta con (?:ustedes|usted|ti|su empresa)"),
    _r("no_quiero_mensajes", "es",
       r"(?:no|ya no|nunca)\s(?:quiero|deseo|necesito|me interesa|queremos|deseamos|necesitamos)\s(?:(?:recibir|mas|seguir recibiendo|que me "
       r"(?:envien|manden|escriban)|sus|tus|estos|esos|los|la|su|esta|esa|mi|ninguna|ningun|vuestros|vuestras)\s)*(?:mensajes|mensaje|"
       r"comunicacion|contacto|"
       r"textos|texto|sms|publicidad|anuncios|propaganda|recordatorios|avisos|actualizaciones|"
       r"notificaciones|promociones|ofertas|nada|suscripcion|subscripcion|spam|alertas)"),
    _r("no_mas_mensajes", "es", r"no mas (?:mensajes|mensaje|textos|texto|sms|notificaciones|promociones|spam|messages|"
                                r"publicidad|anuncios|propaganda|"
                                r"message|texts|text|mensajitos|whatsapps|correos|ofertas|llamadas)"),
    _r("detener_mensajes", "es",
       r"(?:detener|detengan|detenga|deten|parar|paren|cancelar|cancelen|alto a|stop|terminar|basta de|(?:parenle|"
       r"parale|ya parenle|parenle ya) con)\s"
       r"(?:los |estos |sus |tus |todos los )?"
       r"(?:mensajes|textos|sms|notificaciones|promociones|recordatorios|avisos|alertas|publicidad)"
       r"(?!\s(?:de|del)\s(?!texto|textos|mensajes|sms|promociones|ofertas|publicidad)\w)"),  # "alertas de fraude"
    _r("quiero_que_me_borren", "es", r"(?:quiero|queremos|necesito) que me (?:borren|quiten|saquen|eliminen|den de baja|"
                                     r"borres|quites|saques|elimines)(?=$|\s(?:de|del|por favor|ya|gracias|ahora)\b)"),
    _r("no_quiero_estar_en_su_lista", "es",
       r"no (?:quiero|deseo) (?:estar|seguir|permanecer|aparecer) en (?:su|tu|la|esta|sus|esa) (?:lista|listas|base de "
       r"datos|sistema)"),
    _r("quien_les_dio_mi_numero", "es",
       r"(?:quien|como|donde) (?:les|le|te) (?:dio|dieron|paso|pasaron|vendio|vendieron|compartio) (?:mi|este) "
       r"(?:numero|telefono|celular)|"
       r"(?:de donde|como) (?:sacaron|consiguieron|obtuvieron|tienen) (?:mi|este) (?:numero|telefono|celular)|"
       r"por que (?:tienen|tiene|tienes) (?:mi|este) (?:numero|telefono|celular)"),
    _r("quitenme_de_la_lista", "es",
       r"(?:(?:quitenme|quitame|quiteme|quitarme|sacame|saquenme|sacarme|borrenme|borrame|borrarme|eliminenme|bajame|"
       r"bajenme|olviden|olvidense de|olvidate de|olvida|"
       r"eliminame|eliminarme|borradme|quitadme|eliminadme|sacadme)(?:\s(?:de|del)\s(?:la |su |sus |esta |tu |esa |"
       r"vuestra |vuestras )?(?:lista|listas|base de datos|"
       r"sistema|mensajes|envios))?|(?:quiten|quitar|saquen|sacar|borren|borrar|eliminen|eliminar|borrad|quitad)\s"
       r"(?:mi numero|mi nombre|mis datos|este numero|mi telefono|este telefono|mi celular|este celular)|"
       r"(?:quiten|quitar|saquen|sacar|borren|borrar|eliminen|eliminar|quitennos|saquennos|borrennos|eliminennos|"
       r"bajennos)\s(?:de|del)\s(?:la |su "
       r"|sus |esta |tu |esa )?(?:lista|listas))"),
    _r("darme_de_baja", "es", r"(?:darme|dar|deme|denme|me doy|darnos|darse|dame|den|me dan|me den|me da|me pueden dar|"
                              r"me puede dar|me pueden|me puede)\sde baja"
                              # "dar de baja mi tarjeta vieja": something else
                              r"(?!\s(?:mi|la|el|una|un|los|las|su|mis|sus|este|esta)\s(?!(?:numero|suscripcion|telefono|"
                              r"celular|linea|mensajes|textos|sms)\b(?!\s(?:de|del)\s(?!mensajes|textos|sms))))"),
    _r("cancelar_suscripcion", "es",
       r"(?:cancelar|cancela|cancelen|anular|anulen|terminar)\s(?:la |mi |su |esta |los |mis )?(?:suscripcion|"
       r"subscripcion|mensajes|sms|notificaciones|alertas|textos|recordatorios|avisos|promociones)"
       r"(?!\s(?:de|del)\s(?!texto|textos|mensajes|sms|promociones|ofertas)\w)"),
    _r("numero_equivocado", "es",
       r"(?:numero (?:equivocado|incorrecto|erroneo)|(?:se )?equivoc\w* de (?:numero|persona))"
       r"(?!\s(?:en|de|del|para)\s(?:mi|la|el|su|tu|este|esta)\s)"),  # "número equivocado en mi factura"
    _r("dejame_en_paz", "es", r"(?:dejame|dejenme|deja|dejen|dejeme|dejennos|dejanos)\sen paz|no molestar"),
    _r("tengo_que_bloquearlos", "es",
       r"tengo que (?:bloquearlos|reportarlos|denunciarlos|bloquearte|reportarte|bloquear este numero|reportar este "
       r"numero)|\bo (?:los|te|les|lo) (?:reporto|bloqueo|denuncio|demando)"),
    _r("no_soy_cliente", "es", r"no soy (?:su |tu )?cliente(?: suyo| suya| de ustedes| de nadie)?", anchored=True),
    _r("no_soy_la_persona", "es", r"no soy (?:(?:la persona|quien|el|la) (?:que )?(?:buscan|busca|buscas|creen|cree)|"
                                  r"(?:esa|esta|la) persona)"),
    _r("nunca_me_suscribi", "es",
       r"(?:nunca|yo no|no|jamas) (?:me |les |le |te )?(?:suscribi|inscribi|registre|di mi numero|pedi|autorice|acepte|"
       r"solicite)\w*"
       r"(?=$|\s(?:esto|estos|estas|esta|a esto|a esta|a estos|nada|mensajes|sus|sms|textos|a sus|para)\b)"),
    _r("no_me_interesan_sus_mensajes", "es",
       r"(?:ya )?no (?:me|nos) interesa(?:n)? (?:(?:sus|tus|los|las|estos|estas|su|tu|esos|esas|nada de|la)\s)?(?:mensajes|"
       r"publicidad|propaganda|"
       r"promociones|ofertas|textos|servicios|productos|anuncios|promos)"),
    _r("no_conozco_a_esa_persona", "es",
       r"no (?:conozco|se quien es) (?:a )?(?:esa persona|ese senor|esa senora|ese nombre|nadie (?:con ese nombre|"
       r"llamad[oa] asi|que se llame asi))|(?:aqui no vive|aqui no hay|no vive aqui) (?:nadie|esa persona)"),
    _r("voy_a_reportar", "es",
       r"(?:voy a|vamos a|los voy a|te voy a|lo voy a|les voy a) (?:reportar|denunciar|bloquear|demandar)"
       r"(?:\s(?:este numero|su numero|esto|a ustedes|los|los mensajes))?|"
       r"(?:voy a|vamos a) (?:llamar|hablar|contactar) (?:a|con) (?:mi|un|una) (?:abogado|abogada)"),
    _r("no_me_interesa", "es", r"(?:no gracias\s)?(?:ya\s)?no (?:me|nos) interesa(?:n)?(?:\s(?:gracias|nada|mas|esto|eso|"
                               r"nada de esto|adios))*|"
                               r"(?:ya\s)?no (?:tengo|tenemos) (?:ningun\s)?interes(?:\s(?:gracias|en nada))?|"
                               r"(?:ya\s)?no (?:estoy|estamos) interesad[oa]s?(?:\s(?:gracias|en nada))?|"
                               r"no interesad[oa]s?|sin interes(?:\s(?:gracias|ninguno))?",
       anchored=True),
    _r("ya_dije_que_no", "es", r"(?:ya )?(?:les |te |le )?(?:dije|he dicho|dijimos|hemos dicho) que no(?: (?:gracias|me "
                               r"interesa|quiero))?", anchored=True),
    _r("ya_no", "es", r"(?:ya no|ya no mas|ya no quiero|ya no deseo)(?:\s(?:nada|mas|recibir nada))?", anchored=True),
    _r("ya_no_quiero_al_final", "es", r"(?:ya no (?:quiero|deseo)(?:\s(?:nada|mas|recibir nada|recibir mas))?|no (?:quiero|deseo) (?:nada|mas|"
       r"recibir nada|recibir mas))$"),
    _r("cambio_de_numero", "es", r"(?:el |ella |ya )?(?:ya )?(?:cambio|cambiaron) (?:de|su) numero", anchored=True),
    _r("no_es_mi_numero", "es", r"(?:(?:esta|es) equivocado el numero|(?:este )?no es mi numero|el numero (?:esta|es) "
                                r"equivocado$)|(?:este |ese )?no es el (?:numero|telefono) correcto"),
    _r("no_me_llegue_nada", "es", r"(?:ya )?no (?:quiero que )?(?:me |nos )?(?:llegue|lleguen) (?:nada|mas|ningun mensaje|"
                                  r"mensajes|ningun texto)"),
    _r("me_salgo_de_la_lista", "es", r"(?:me salgo|salirme|quiero salir|me quiero salir|sacarme|me doy de baja) (?:de|del) "
                                     r"(?:la|su|esta|sus|tu|vuestra) (?:lista|listas|programa|servicio de mensajes)"),
    _r("dejar_de_recibir", "es",
       r"(?:quiero|quisiera|deseo|me gustaria|necesito|favor de|como puedo|como hago para) dejar de recibir"
       r"(?:\s(?:sus|tus|estos|los|esos|mas))?\s(?:mensajes|mensaje|textos|sms|promociones|ofertas|notificaciones|"
       r"alertas|esto|estos)"),
    _r("ya_basta", "es", r"(?:ya basta|basta ya)(?:\s(?:de|con)\s(?:mensajes|textos|spam|promociones|sms|ofertas|esto|eso|"
                         r"molestar|publicidad))?(?!\s(?:de|con)\b)|basta (?:de|con) (?:mensajes|textos|spam|promociones|"
                         r"sms|ofertas|esto|eso|molestar|publicidad|anuncios|propaganda)"),
    _r("retiro_mi_consentimiento", "es",
       r"(?:retiro|revoco|cancelo|anulo|retirar|revocar|retiramos|revocamos) (?:mi |el |todo |cualquier |nuestro )?"
       r"(?:consentimiento|permiso|autorizacion)|"
       r"no (?:tienen|tiene|tienes) (?:mi |nuestro )?(?:permiso|consentimiento|autorizacion)|"
       r"(?:nunca|no|jamas) (?:les |le |te )?(?:di|dimos|he dado|hemos dado|doy|damos) (?:mi |nuestro )?(?:permiso|"
       r"consentimiento|autorizacion)|"
       r"no (?:autorizo|acepto|consiento|doy permiso)(?: (?:que|a que|para que))? (?:me |nos )?(?:envien|manden|"
       r"escriban|contacten|mensajes|textos)"),
    _r("paren_esto", "es", r"(?:detengan|detenga|paren|pare|para|cancelen|cancela|basta|terminen|alto a) (?:esto|todo "
                           r"esto|todo|ya todo)", anchored=True),
)

